/** The byte-level tokenizer, the tokenizer.json wrapper and the plain chat template. */
package org.distillery.models.tokenizer;
