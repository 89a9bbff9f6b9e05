/**
 * The rlkd bundle: reinforcement learning with distillation. Rewards ({@code reward.exact-answer},
 * {@code reward.format}, {@code reward.judge}, {@code reward.llmr}); on-policy samplers
 * ({@code rl.grpo} for GRPO and KDRL, {@code rl.llmr}, {@code dpo.pairs}); losses ({@code rl.grpo},
 * {@code rl.kl}, {@code rl.entropy}, {@code dpo.sigmoid}); data stages ({@code rl.traces} for
 * R1-style rejection-sampled traces, {@code dpo.aif} for Zephyr's AI-feedback pairs); metrics
 * ({@code rl.accuracy}, {@code rl.response-length}); methods ({@code rl.compare}, {@code rl.r1},
 * {@code dpo.zephyr}). Everything is private; the kernel reads {@link
 * org.distillery.rlkd.internal.RlkdModule} from the manifest.
 */
package org.distillery.rlkd.internal;
