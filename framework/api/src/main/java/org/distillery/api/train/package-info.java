/**
 * Trainers are stages (supervised distillation, PPO-style policy gradient, DPO, ...);
 * methods are named recipes of stages, e.g. MiniLLM = SFT warm start then policy gradient.
 */
package org.distillery.api.train;
