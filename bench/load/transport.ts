/**
 * The seam between the load generator and what it loads. A transport is
 * one client connection: the publisher uses one, a subscriber process
 * uses one per simulated subscriber. Implementations live in
 * `transport-<name>.ts` and are registered in `transports.ts`.
 *
 * The harness treats payloads as opaque bytes (its own header sits in the
 * first 16 bytes, see protocol.ts); a transport must deliver them
 * unchanged. It may wrap them (the meshgate transport carries them as the
 * CloudEvent `data`).
 */

export interface Transport {
  /** Connects and resolves once the connection can publish and subscribe. */
  connect(url: string): Promise<void>;
  /**
   * Queues one message. `seq` is unique within a publisher run (0, 1, 2…);
   * use it where the protocol needs a message id (CloudEvents `id`).
   * Return nothing on the fast path; return a promise only when the caller
   * must wait (backpressure): the publisher awaits it before the next one.
   * `payload` may be reused by the caller after the call returns.
   */
  publish(topic: string, payload: Uint8Array, seq: number): void | Promise<void>;
  /**
   * Subscribes and resolves once the server has registered the
   * subscription (for NATS: after a flush round trip). `payload` is only
   * valid during the callback.
   */
  subscribe(filter: string, onMessage: (payload: Uint8Array) => void): Promise<void>;
  /** Resolves when everything published so far has been accepted by the server. */
  flush(): Promise<void>;
  /** Closes the connection; safe to call twice. */
  close(): Promise<void>;
}

/** Options a transport factory receives. */
export interface TransportOptions {
  /** Client name shown by the server (nats connz name, meshgate client id). */
  readonly clientId: string;
}

export type TransportFactory = (opts: TransportOptions) => Transport;
