package org.distillery.minillm.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.MethodFactory;

/**
 * The minillm bundle's contributions (MiniLLM, on-policy distillation by reverse-KL policy
 * gradient), named by its {@code Distillery-Module} manifest header: the rollout sampler, the
 * three loss terms and the method. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class MiniLlmModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public MiniLlmModule() {
    }

    @Override
    protected void configure() {
        MapBinder<String, LossFactory> losses = MapBinder.newMapBinder(binder(), String.class, LossFactory.class);
        losses.addBinding(PolicyGradientLoss.KEY).toInstance(new PolicyGradientLoss.Factory());
        losses.addBinding(SingleStepLoss.KEY).toInstance(new SingleStepLoss.Factory());
        losses.addBinding(PretrainLoss.KEY).toInstance(new PretrainLoss.Factory());
        MapBinder.newMapBinder(binder(), String.class, SamplerFactory.class)
                .addBinding(RolloutSampler.KEY).toInstance(new RolloutSampler.Factory());
        MapBinder.newMapBinder(binder(), String.class, MethodFactory.class)
                .addBinding(MiniLlmMethod.KEY).toInstance(new MiniLlmMethod());
    }
}
