// Passwords reach the app inside URLs (DATABASE_URL, REDIS_URL, ...). Each
// URL shown to a person goes through redactUrl, and everything the process
// prints also goes through a Scrubber that knows the passwords it was given,
// so a library error that quotes a URL cannot leak one either.

const MASK = '***';

// Scheme (optional), then the userinfo: everything up to the LAST '@', since
// an unencoded password may itself hold '@', ':' or '/'.
const USERINFO = /^(?<scheme>[a-z][a-z0-9+.-]*:\/\/)?(?<userinfo>[^\s]*)@/is;

/**
 * `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for
 * errors and logs, whatever the shape of the value: parseable or not, with a
 * scheme or without (`user:secret@host/db`). Only the password is hidden.
 */
export function redactUrl(raw: string): string {
  const match = USERINFO.exec(raw);
  if (!match?.groups) return raw;
  const { scheme = '', userinfo = '' } = match.groups;
  const colon = userinfo.indexOf(':');
  if (colon < 0) return raw;
  return `${scheme}${userinfo.slice(0, colon)}:${MASK}@${raw.slice(match[0].length)}`;
}

/**
 * The password of a URL-like value as a URL parser reads it and as
 * {@link redactUrl} reads it (the two differ when the value is not a valid
 * URL, or holds '@' after its host); empty when it carries none.
 */
export function urlPasswords(raw: string): string[] {
  const found: string[] = [];
  try {
    const password = new URL(raw).password;
    if (password) found.push(password);
  } catch {
    // Not a URL: the pattern below still finds a userinfo.
  }
  const userinfo = USERINFO.exec(raw)?.groups?.userinfo;
  const colon = userinfo?.indexOf(':') ?? -1;
  if (userinfo !== undefined && colon >= 0 && colon < userinfo.length - 1) {
    found.push(userinfo.slice(colon + 1));
  }
  return found;
}

// Shorter passwords would turn ordinary words of every log line into ***.
const MIN_SCRUBBED_LENGTH = 4;

/** Removes known passwords from text the process is about to print. */
export class Scrubber {
  readonly #forms: string[];

  constructor(passwords: Iterable<string>) {
    const forms = new Set<string>();
    for (const password of passwords) {
      if (password.length < MIN_SCRUBBED_LENGTH) continue;
      forms.add(password);
      // As it may be printed: percent-decoded, and escaped inside a JSON string.
      const decoded = safeDecode(password);
      forms.add(decoded);
      for (const form of [password, decoded]) forms.add(JSON.stringify(form).slice(1, -1));
    }
    // Longest first, so a password that contains another is masked whole.
    this.#forms = [...forms].sort((a, b) => b.length - a.length);
  }

  /** True when there is nothing to scrub. */
  get isEmpty(): boolean {
    return this.#forms.length === 0;
  }

  scrub(text: string): string {
    let out = text;
    for (const form of this.#forms) if (out.includes(form)) out = out.split(form).join(MASK);
    return out;
  }
}

/**
 * The passwords held by the URL settings of `env` (every `*_URL` variable)
 * and by any extra values such as URL flags.
 */
export function passwordsIn(
  env: Readonly<Record<string, string | undefined>>,
  extra: readonly (string | undefined)[] = [],
): string[] {
  const values = [
    ...Object.entries(env)
      .filter(([name]) => name.endsWith('_URL'))
      .map(([, value]) => value),
    ...extra,
  ];
  // A comma list (NATS_URL names one server per item) holds one password per URL.
  return values
    .filter((value): value is string => value !== undefined)
    .flatMap((value) => [value, ...(value.includes(',') ? value.split(',') : [])])
    .flatMap(urlPasswords);
}

/** A writable that scrubs each chunk before handing it on (a pino destination). */
export function scrubbingStream(
  destination: { write(chunk: string): unknown },
  scrubber: Scrubber,
): { write(chunk: string): unknown } {
  if (scrubber.isEmpty) return destination;
  return {
    write(chunk: string) {
      destination.write(scrubber.scrub(chunk));
    },
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
