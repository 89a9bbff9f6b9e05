package org.distillery.rlkd.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The rlkd bundle's contributions (reinforcement learning with distillation: GRPO, KDRL, LLMR,
 * distilled DPO, R1-style traces), named by its {@code Distillery-Module} manifest header. Every key
 * bound here has its defaults in {@code reference.conf}.
 */
public final class RlkdModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public RlkdModule() {
    }

    @Override
    protected void configure() {
        MapBinder<String, RewardFactory> rewards = MapBinder.newMapBinder(binder(), String.class, RewardFactory.class);
        rewards.addBinding(ExactAnswerReward.KEY).toInstance(new ExactAnswerReward.Factory());
        rewards.addBinding(FormatReward.KEY).toInstance(new FormatReward.Factory());
        rewards.addBinding(JudgeReward.KEY).toInstance(new JudgeReward.Factory());
        rewards.addBinding(LlmrReward.KEY).toInstance(new LlmrReward.Factory());
        MapBinder<String, SamplerFactory> samplers = MapBinder.newMapBinder(binder(), String.class, SamplerFactory.class);
        samplers.addBinding(GrpoSampler.KEY).toInstance(new GrpoSampler.Factory());
        samplers.addBinding(LlmrSampler.KEY).toInstance(new LlmrSampler.Factory());
        samplers.addBinding(PairSampler.KEY).toInstance(new PairSampler.Factory());
        MapBinder<String, LossFactory> losses = MapBinder.newMapBinder(binder(), String.class, LossFactory.class);
        losses.addBinding(GrpoLoss.KEY).toInstance(new GrpoLoss.Factory());
        losses.addBinding(KlLoss.KEY).toInstance(new KlLoss.Factory());
        losses.addBinding(EntropyLoss.KEY).toInstance(new EntropyLoss.Factory());
        losses.addBinding(DpoLoss.KEY).toInstance(new DpoLoss.Factory());
        MapBinder<String, TrainerFactory> trainers = MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class);
        trainers.addBinding(TracesTrainer.KEY).toInstance(new TracesTrainer.Factory());
        trainers.addBinding(AifTrainer.KEY).toInstance(new AifTrainer.Factory());
        MapBinder<String, MetricFactory> metrics = MapBinder.newMapBinder(binder(), String.class, MetricFactory.class);
        metrics.addBinding(AccuracyMetric.KEY).toInstance(new AccuracyMetric.Factory());
        metrics.addBinding(ResponseLengthMetric.KEY).toInstance(new ResponseLengthMetric.Factory());
        MapBinder<String, MethodFactory> methods = MapBinder.newMapBinder(binder(), String.class, MethodFactory.class);
        methods.addBinding(CompareMethod.KEY).toInstance(new CompareMethod());
        methods.addBinding(R1Method.KEY).toInstance(new R1Method());
        methods.addBinding(ZephyrMethod.KEY).toInstance(new ZephyrMethod());
    }
}
