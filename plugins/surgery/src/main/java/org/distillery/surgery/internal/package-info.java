/**
 * The surgery bundle: model merging ({@code merge.linear}, {@code merge.slerp}, {@code merge.ties},
 * {@code merge.cocktail}; the {@code merge.stage} stage and the {@code merge.recipe} method), layer pruning by
 * angular distance ({@code prune.layers}, {@code prune.stage}) and self-data distillation of the pruned model
 * ({@code sdd.regenerate}, {@code sdd.recipe}).
 */
package org.distillery.surgery.internal;
