/**
 * Model merging: a {@link org.distillery.api.merge.MergerFactory} (contribution kind {@code mergers})
 * builds a {@link org.distillery.api.merge.Merger} that combines Hugging Face model folders of one
 * architecture into a new folder, tensor by tensor. {@code distill merge} and merge stages of a run
 * look mergers up by key ({@code merge.linear}, {@code merge.cocktail}, ...).
 */
package org.distillery.api.merge;
