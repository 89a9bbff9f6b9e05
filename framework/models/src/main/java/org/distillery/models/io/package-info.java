/** Validating, memory-mapping safetensors reader, atomic writers and JSON helpers. */
package org.distillery.models.io;
