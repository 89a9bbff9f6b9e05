/**
 * Records as tokens: {@link org.distillery.kit.data.Records} is the one encoder of prompt/response,
 * chat and text records (chat template, bos/eos, loss masks, truncation, right-padded batches) that
 * samplers, generators, teachers, evaluation and the server share.
 */
package org.distillery.kit.data;
