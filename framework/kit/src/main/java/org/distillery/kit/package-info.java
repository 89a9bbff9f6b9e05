/**
 * The bundle author's kit: helpers every method bundle may import besides {@code org.distillery.api},
 * written and tested once.
 * <ul>
 *   <li>{@code kit.loss}: chunked losses with per-chunk gradients, engine-owned scalars, composing registered losses;</li>
 *   <li>{@code kit.data}: the one encoder of records into tokens and batches;</li>
 *   <li>{@code kit.config}: parameter checks that name the config path;</li>
 *   <li>{@code kit.optim}: AdamW with saved state;</li>
 *   <li>{@code kit.teacher}: top-k teacher outputs for batches;</li>
 *   <li>{@code kit.openai}: a client for OpenAI-compatible endpoints;</li>
 *   <li>{@code kit.io}: atomic files and folders, a model folder's tokenizer files;</li>
 *   <li>{@code kit.text}: ROUGE-L, exact match and distinct n-grams, as the evaluation computes them;</li>
 *   <li>{@code kit.stage}: stages of methods (train variants, the closing evaluation, an earlier stage's model);</li>
 *   <li>{@code kit.module}: a bundle's contributions read from its Guice module, as the kernel reads them.</li>
 * </ul>
 */
package org.distillery.kit;
