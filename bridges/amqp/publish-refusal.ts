/**
 * RabbitMQ refuses some publishes for good, and says so by closing the
 * channel (a soft error on basic.publish, class 60 method 40) rather than
 * with a basic.nack:
 *
 * ```
 *   403 ACCESS_REFUSED - access to topic 'k' in exchange 'x' in vhost 'v' refused for user 'u'   topic authorisation
 *   403 ACCESS_REFUSED - access to exchange 'x' in vhost 'v' refused for user 'u'                write permission
 *   406 PRECONDITION_FAILED - message size N is larger than configured max size M               max_message_size (body bytes)
 * ```
 *
 * The close names a routing key, an exchange or a size, never a delivery
 * tag, and amqplib then fails every unconfirmed message on the channel
 * with a plain "channel closed". A {@link PublishRefusal} picks out the
 * ones the close is about: those RabbitMQ would refuse the same way
 * whenever they were sent, so they are refused (MeshError) rather than
 * held and sent again, which would close the next channel too, one
 * close after another. The others were only caught in the close and are
 * sent again, on the fresh channel the client opens (publish-channel.ts).
 *
 * Other channel errors on publish (404 NOT_FOUND: the exchange is gone)
 * are not about one message: they stay plain errors.
 */
import { type ErrorCode, MeshError } from '../../broker/mod.js';

/** What a channel close refused, as a test against each unconfirmed message. */
export interface PublishRefusal {
  /** A MeshError when RabbitMQ refuses this message for the close's reason, else null. */
  refuses(exchange: string, routingKey: string, bodyBytes: number): MeshError | null;
}

/** The channel error amqplib emits for a server channel.close (lib/channel.js). */
interface ChannelCloseError extends Error {
  code?: number;
  classId?: number;
  methodId?: number;
}

const CLASS_BASIC = 60;
const METHOD_PUBLISH = 40;
const ACCESS_REFUSED = 403;
const PRECONDITION_FAILED = 406;
/** amqplib's message: `Channel closed by server: 403 (ACCESS-REFUSED) with message "<reply text>"`. */
const REPLY_TEXT = /with message "(.*)"$/s;
const TOPIC_REFUSED = /access to topic '(.*)' in exchange '(.*)' in vhost '/s;
const EXCHANGE_REFUSED = /access to exchange '(.*)' in vhost '/s;
const TOO_LARGE = /message size (\d+) is larger than configured max size (\d+)/;

/**
 * The refusal a channel error carries, or null when it is not one that
 * refuses particular messages for good.
 * @example
 * publishChannel.on('error', (err) => (refusal = publishRefusal(err)));
 * // in a confirm callback that got "channel closed":
 * done(refusal?.refuses('amq.topic', 'denied.x', body.byteLength) ?? err);
 */
export function publishRefusal(err: ChannelCloseError): PublishRefusal | null {
  if (err.classId !== CLASS_BASIC || err.methodId !== METHOD_PUBLISH) return null;
  const text = REPLY_TEXT.exec(err.message)?.[1] ?? err.message;
  const refused = (code: ErrorCode) => new MeshError(code, `RabbitMQ closed the publish channel: ${err.code} ${text}`, { cause: err });
  if (err.code === ACCESS_REFUSED) {
    const topic = TOPIC_REFUSED.exec(text);
    if (topic !== null) {
      const [, key, exchange] = topic;
      return { refuses: (x, k) => (x === exchange && k === key ? refused('MG_ERR_AUTH_FORBIDDEN') : null) };
    }
    const exchange = EXCHANGE_REFUSED.exec(text)?.[1];
    if (exchange !== undefined) return { refuses: (x) => (x === exchange ? refused('MG_ERR_AUTH_FORBIDDEN') : null) };
    return null;
  }
  if (err.code === PRECONDITION_FAILED) {
    const size = TOO_LARGE.exec(text);
    if (size === null) return null;
    const max = Number(size[2]);
    return { refuses: (_x, _k, bytes) => (bytes > max ? refused('MG_ERR_EVENT_TOO_LARGE') : null) };
  }
  return null;
}
