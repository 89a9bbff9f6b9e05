/**
 * Helpers for teachers that answer with top-k log-probabilities (a cache file, an endpoint):
 * {@link org.distillery.kit.teacher.TopKBatch} assembles their per-sequence answers into one
 * {@link org.distillery.api.teacher.TeacherOutput} for a batch.
 */
package org.distillery.kit.teacher;
