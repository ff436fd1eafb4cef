export { TcpProxy } from './tcp-proxy.js';
export { prng } from './prng.js';
