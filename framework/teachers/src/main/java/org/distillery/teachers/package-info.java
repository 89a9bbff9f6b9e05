/**
 * The built-in teachers and the teacher side of a stage: {@link org.distillery.teachers.RunTeachers}
 * finds the run's tokenizer and opens the experiment's teacher; {@code teacher.local} loads a model
 * folder, {@code teacher.cached} ({@code cache}) reads precomputed top-k log-probabilities,
 * {@code teacher.remote} ({@code remote}) asks an OpenAI-compatible endpoint.
 */
package org.distillery.teachers;
