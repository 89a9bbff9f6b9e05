/** Batched, seeded decoding with KV caches and teacher-mixed sampling. */
package org.distillery.models.generate;
