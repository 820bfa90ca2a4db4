import Router from '@koa/router';
import type { Context } from 'koa';
import { activityOf } from '../activity.js';
import { httpError } from '../http-error.js';
import { cartSize, hasSession, type ShopEnv } from '../session-data.js';

const SKU = /^[a-z0-9][a-z0-9-]{0,31}$/i;
const MAX_QTY = 99;

/**
 * The cart, kept in the session (`ctx.session.cart`, a Map sku -> quantity).
 * - `GET /cart`: the cart (reading creates no session and sets no cookie).
 * - `POST /cart/:sku?qty=N`: adds N (default 1) of sku; the first write creates the session.
 * - `DELETE /cart/:sku`: removes sku.
 */
export function cartRouter(env: ShopEnv): Router {
  const router = new Router();

  router.get('/cart', (ctx) => {
    if (hasSession(ctx)) activityOf(ctx.liveSession, env).add('viewed the cart');
    ctx.body = cartView(ctx);
  });

  router.post('/cart/:sku', (ctx) => {
    const sku = checkSku(ctx, ctx.params.sku);
    const qty = ctx.query.qty === undefined ? 1 : Number(ctx.query.qty);
    if (!Number.isSafeInteger(qty) || qty < 1 || qty > MAX_QTY) throw httpError(400, `qty must be an integer from 1 to ${MAX_QTY}`);
    // The first write to ctx.session creates the live session (and its cookie).
    ctx.session.cart ??= new Map<string, number>();
    const cart = ctx.session.cart;
    const total = Math.min((cart.get(sku) ?? 0) + qty, MAX_QTY);
    cart.set(sku, total);
    activityOf(ctx.liveSession, env).add(`added ${qty} ${sku}`);
    ctx.body = cartView(ctx);
  });

  router.delete('/cart/:sku', (ctx) => {
    const sku = checkSku(ctx, ctx.params.sku);
    const cart = ctx.session.cart;
    if (cart === undefined || !cart.delete(sku)) throw httpError(404, `${sku} is not in the cart`);
    activityOf(ctx.liveSession, env).add(`removed ${sku}`);
    ctx.body = cartView(ctx);
  });

  return router;
}

/** The cart as JSON, with the session id (it stays the same when the session is restored; login changes it). */
export function cartView(ctx: Context): { items: { sku: string; qty: number }[]; units: number; sessionId: string | null } {
  const cart = ctx.session.cart;
  return {
    items: [...(cart ?? [])].map(([sku, qty]) => ({ sku, qty })),
    units: cartSize(cart).units,
    sessionId: hasSession(ctx) ? ctx.liveSession.id : null,
  };
}

function checkSku(_ctx: Context, sku: string | undefined): string {
  if (sku === undefined || !SKU.test(sku)) throw httpError(400, 'sku must be 1 to 32 letters, digits or dashes');
  return sku;
}
