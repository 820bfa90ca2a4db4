/** An error Koa (and the app's JSON error middleware) answers with `status` and `message`. */
export function httpError(status: number, message: string): Error & { status: number; expose: boolean } {
  return Object.assign(new Error(message), { status, expose: status < 500 });
}
