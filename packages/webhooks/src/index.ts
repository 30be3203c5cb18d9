/** Signed outbound webhooks: endpoints per tenant, signatures, delivery with retries, dead letters. */
export { SIGNATURE_HEADER, DEFAULT_TOLERANCE_SEC, signWebhook, verifyWebhook } from './sign.ts';
export {
  WebhookStore,
  WebhookError,
  MAX_ENDPOINTS,
  deliveryId,
  type WebhookEndpoint,
} from './store.ts';
export { WebhookDeliverer, webhookQueue } from './delivery.ts';
