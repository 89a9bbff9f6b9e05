/** Architectures (GPT-2, Llama, Qwen2, Mistral, Mixtral, Qwen2-MoE), their parameter layouts, RoPE and KV cache. */
package org.distillery.models.arch;
