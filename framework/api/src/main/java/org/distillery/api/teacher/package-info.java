/**
 * Teachers: a local model, a cache of top-k log-probabilities on disk, or a remote
 * OpenAI-compatible endpoint, all answering the same question: the teacher's next-token
 * distribution at each position of a batch.
 */
package org.distillery.api.teacher;
