package org.distillery.api.model;

import java.nio.file.Path;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * How a model with a vision tower takes images (LLaVA and its kin): the token that stands for an
 * image in the input ids, how many of them one image expands to, and the image preprocessing of
 * the model's {@code preprocessor_config.json}.
 *
 * <p>Input ids hold the processor-expanded form, as Hugging Face's processors write it: the image
 * token repeated {@link #tokensPerImage()} times where the image goes. The forward pass replaces
 * the embeddings of those positions by the image's features, images taken in row-major order of
 * their tokens ({@link ForwardOptions#pixelValues()}).
 */
public interface VisionInput {

    /** The id of the image token ({@code image_token_index} of the model's config). */
    int imageTokenId();

    /** Image tokens (and features) one image expands to. */
    int tokensPerImage();

    /**
     * Pixel values [images, channels, height, width] (float32) of image files, decoded (PNG or
     * JPEG) and preprocessed as the model's processor says (resize, rescale, normalise, pad to square).
     *
     * @throws ImageInputException naming the file when one is missing, unreadable or not an image
     */
    NDArray pixelValues(List<Path> images, NDManager manager);

    /**
     * A stable description of the preprocessing and expansion (image size, mean, std, tokens per
     * image, ...): two models whose descriptions are equal take the same pixel values and token
     * layout, so a teacher can score a student's image batch.
     */
    String describe();
}
