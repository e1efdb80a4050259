/**
 * What can be wrong with a topic or a filter. The codes belong to the
 * node's error catalogue (`broker/errors.ts` lists them); they are spelled
 * out here because routing/ imports nothing of ours.
 */
export type TopicProblemCode = 'MG_ERR_TOPIC_INVALID' | 'MG_ERR_TOPIC_LIMIT';

/**
 * A problem found by a checker. Checkers run per event, so they return
 * this instead of throwing; `message` names what is wrong and where, e.g.
 * `token 2 of 'a..b' is empty`.
 */
export interface TopicProblem {
  readonly code: TopicProblemCode;
  readonly message: string;
}

/**
 * Thrown by the functions that run at configuration or subscribe time
 * (protocol translation, `TopicTrie.add`), never on a per-event path.
 *
 * @example
 * try { mqttFilterToMesh('a/#/b'); }
 * catch (err) { if (err instanceof TopicError) console.log(err.code); }
 */
export class TopicError extends Error {
  readonly code: TopicProblemCode;

  constructor(code: TopicProblemCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** Turns a checker's result into the error a config-time caller throws. */
  static from(problem: TopicProblem): TopicError {
    return new TopicError(problem.code, problem.message);
  }
}

/**
 * Quotes a topic for a problem message: at most 80 characters, and
 * invisible characters spelled `\uXXXX`, because the message ends up in
 * logs and client error frames where a raw control character would garble
 * the line.
 */
export function quote(text: string): string {
  const cut = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) ? `\\u${c.toString(16).padStart(4, '0')}` : cut[i];
  }
  return `'${out}'`;
}
