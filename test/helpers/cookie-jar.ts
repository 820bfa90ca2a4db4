/** A browser's cookies for one site, by name: what the test browsers send and update. */
export type CookieJar = Map<string, string>;

/** The `Cookie` request header for `jar`, or `undefined` when it is empty. */
export function cookieHeader(jar: CookieJar): string | undefined {
  return jar.size === 0 ? undefined : [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

/** Applies `Set-Cookie` headers to `jar` as a browser would: an empty value or a past `Expires` removes the cookie. */
export function absorbSetCookies(jar: CookieJar, headers: readonly string[]): void {
  for (const header of headers) {
    const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const expires = attributes.find((a) => a.toLowerCase().startsWith('expires='));
    const expired = expires !== undefined && Date.parse(expires.slice('expires='.length)) <= Date.now();
    if (value === '' || expired) jar.delete(name);
    else jar.set(name, value);
  }
}
