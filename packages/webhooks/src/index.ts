/** Signed outbound webhooks: endpoints per tenant, signatures, delivery with retries, dead letters. */
export {
  SIGNATURE_HEADER,
  DEFAULT_TOLERANCE_SEC,
  signWebhook,
  verifyWebhook,
  type VerifyResult,
} from './sign.ts';
export {
  WebhookStore,
  WebhookError,
  MAX_ENDPOINTS,
  deliveryId,
  type WebhookEndpoint,
  type DeadLetter,
} from './store.ts';
export { WebhookDeliverer, WebhookDeliveryError, webhookQueue } from './delivery.ts';
