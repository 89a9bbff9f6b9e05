/**
 * Language models as seen by methods: Hugging Face-compatible configs, forward passes with
 * optional hidden states, attentions and router logits, KV-cache generation with a hook for
 * mixed teacher/student sampling, tokenizers, student initialisers, and the image inputs of
 * models with a vision tower ({@link org.distillery.api.model.VisionInput}).
 */
package org.distillery.api.model;
