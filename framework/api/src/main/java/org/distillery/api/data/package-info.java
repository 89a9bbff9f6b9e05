/**
 * Training data: instruction records, JSONL datasets, tokenised batches and dataset
 * generators (synthetic suites, teacher-driven generation, dataset distillation).
 */
package org.distillery.api.data;
