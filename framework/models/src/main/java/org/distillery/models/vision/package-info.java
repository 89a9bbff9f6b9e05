/**
 * Vision towers in DJL with Hugging Face names and numerics (SigLIP and CLIP), and image
 * preprocessing from {@code preprocessor_config.json} with DJL's {@code ai.djl.modality.cv}.
 */
package org.distillery.models.vision;
