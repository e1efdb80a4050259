import { checkFilter, checkTopic, TopicError, type TopicLimits, type TopicProblem } from '../../routing/mod.js';
import type { TopicDialect } from '../core/mod.js';

/** Syntax only: the server bounds subjects, node.ingest applies the mesh limits. */
const NO_LIMITS: TopicLimits = Object.freeze({ maxLength: Number.MAX_SAFE_INTEGER, maxTokens: Number.MAX_SAFE_INTEGER, maxWildcards: Number.MAX_SAFE_INTEGER });

/**
 * NATS subjects are mesh topics: the mesh took NATS's syntax (`.`, `*`,
 * `>`) and escapes whitespace inside tokens, so translation is the
 * identity once the subject is checked.
 */
export const NATS_DIALECT: TopicDialect = Object.freeze({
  topicToMesh: (subject: string) => checked(subject, checkTopic(subject, NO_LIMITS)),
  topicFromMesh: (topic: string) => topic,
  filterToMesh: (filter: string) => [checked(filter, checkFilter(filter, NO_LIMITS))],
  filterFromMesh: (filter: string) => filter,
  everything: '>',
  separator: '.',
});

function checked(text: string, problem: TopicProblem | null): string {
  if (problem !== null) throw TopicError.from(problem);
  return text;
}
