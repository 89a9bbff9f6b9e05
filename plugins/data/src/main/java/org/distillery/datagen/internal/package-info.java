/**
 * The data bundle: teacher-driven dataset generation through any OpenAI-compatible endpoint
 * (Self-Instruct targeted generation, UltraChat topic dialogues, judge-based quality filtering)
 * and dataset distillation by selection (greedy gradient matching, MMD distribution matching),
 * run as {@code data.generate} stages of the {@code data.distill} method. Everything here is private.
 */
package org.distillery.datagen.internal;
