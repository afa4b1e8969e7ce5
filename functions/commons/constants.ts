/**
 * Service names of the functions. Powertools Metrics turns the service name into the `service` dimension of
 * every metric it emits, so the CDK alarms (infra/monitoring.ts) must use the very same value.
 */
export const POLLER_SERVICE_NAME = 'poller';
export const ENQUEUE_SERVICE_NAME = 'lpv-enqueue';
/** The eraser (functions/eraser.ts): the ErasureOverdue alarm reads its metrics under this service. */
export const ERASER_SERVICE_NAME = 'lpv-eraser';
