/** Optimisers with state that survives a checkpoint: {@link org.distillery.kit.optim.AdamW}. */
package org.distillery.kit.optim;
