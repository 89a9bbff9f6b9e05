/**
 * Hugging Face-compatible language models on DJL: the {@link org.distillery.models.HfModelService}
 * the kernel registers, and {@code config.json} handling.
 */
package org.distillery.models;
