/** The moe bundle: sparse-to-dense MoE distillation. */
package org.distillery.moe.internal;
