/**
 * Helpers for teachers: {@link org.distillery.kit.teacher.TopKBatch} assembles the per-sequence
 * answers of teachers that answer with top-k log-probabilities (a cache file, an endpoint) into
 * one {@link org.distillery.api.teacher.TeacherOutput}; {@link org.distillery.kit.teacher.ModelTeacher}
 * is a teacher over an in-process model; {@link org.distillery.kit.teacher.ExperimentTeacher}
 * opens the teacher (and the tokenizer) an experiment names, for trainers.
 */
package org.distillery.kit.teacher;
