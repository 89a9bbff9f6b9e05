/**
 * Language models as seen by methods: Hugging Face-compatible configs, forward passes with
 * optional hidden states, attentions and router logits, KV-cache generation with a hook for
 * mixed teacher/student sampling, tokenizers, and student initialisers.
 */
package org.distillery.api.model;
