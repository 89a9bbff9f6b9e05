/** The minillm bundle: MiniLLM (on-policy distillation). */
package org.distillery.minillm.internal;
