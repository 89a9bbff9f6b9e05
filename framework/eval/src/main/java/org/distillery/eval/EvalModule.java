package org.distillery.eval;

import java.util.List;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.module.ModuleContributions;

/**
 * The built-in metrics and the {@code eval.report} trainer, bound as a bundle binds its
 * contributions (the kernel reads this module from the jar's {@code Distillery-Module} header),
 * with defaults in this jar's {@code reference.conf}.
 */
public final class EvalModule extends AbstractModule {

    @Override
    protected void configure() {
        MapBinder<String, MetricFactory> metrics = MapBinder.newMapBinder(binder(), String.class, MetricFactory.class);
        metrics.addBinding(RougeLMetric.KEY).toInstance(new RougeLMetric.Factory());
        metrics.addBinding(ExactMatchMetric.KEY).toInstance(new ExactMatchMetric.Factory());
        metrics.addBinding(EceMetric.KEY).toInstance(new EceMetric.Factory());
        metrics.addBinding(DistinctMetric.KEY).toInstance(new DistinctMetric.Factory());
        metrics.addBinding(LmLossMetric.KEY).toInstance(new LmLossMetric.Factory());
        metrics.addBinding(ExAccErrMetric.KEY).toInstance(new ExAccErrMetric.Factory(false));
        metrics.addBinding(ExAccErrMetric.KEY_ALIVE).toInstance(new ExAccErrMetric.Factory(true));
        metrics.addBinding(JudgeMetric.KEY).toInstance(new JudgeMetric.Factory());
        metrics.addBinding(LogProbJudgeMetric.KEY).toInstance(new LogProbJudgeMetric.Factory());
        MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class)
                .addBinding(EvalReportTrainer.KEY).toInstance(new EvalReportTrainer.Factory());
    }

    /** This module's contributions with their defaults, as the kernel reads them. */
    public static List<ModuleContributions.Entry> contributions() {
        return ModuleContributions.of(new EvalModule(),
                ModuleContributions.reference(EvalModule.class.getClassLoader(), "reference.conf"));
    }

    /** A registry of the built-in metrics, for evaluating outside the kernel ({@code distill eval}, tests). */
    public static ContributionRegistry registry() {
        return ModuleContributions.registry(contributions(), "distillery-eval", "built-in");
    }
}
