/**
 * {@code LlavaForConditionalGeneration}: a vision tower, a projector and any supported text model;
 * its config, its parameter names in the current, legacy and TinyLLaVA checkpoint layouts, and the
 * forward pass that puts image features in place of the image tokens.
 */
package org.distillery.models.llava;
