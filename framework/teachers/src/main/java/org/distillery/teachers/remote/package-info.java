/**
 * The {@code teacher.remote} teacher: top-k log-probabilities of an OpenAI-compatible endpoint at
 * every position of a batch (gray-box knowledge distillation), and its registration as a
 * built-in contribution ({@link org.distillery.teachers.remote.ServeContributions}).
 */
package org.distillery.teachers.remote;
