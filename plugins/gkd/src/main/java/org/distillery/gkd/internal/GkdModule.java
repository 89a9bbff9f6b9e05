package org.distillery.gkd.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.MethodFactory;

/**
 * The gkd bundle's contributions (GKD, generalized knowledge distillation), named by its
 * {@code Distillery-Module} manifest header: the {@code gkd.on-policy} sampler, which runs in the
 * built-in {@code train.kd} stage next to a divergence loss such as kd-core's {@code kd.jsd}, and
 * the {@code gkd.recipe} method (SFT warm start, GKD, evaluation).
 * Every key bound here has its defaults in {@code reference.conf}.
 */
public final class GkdModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public GkdModule() {
    }

    @Override
    protected void configure() {
        MapBinder.newMapBinder(binder(), String.class, SamplerFactory.class)
                .addBinding(OnPolicySampler.KEY).toInstance(new OnPolicySampler.Factory());
        MapBinder.newMapBinder(binder(), String.class, MethodFactory.class)
                .addBinding(GkdMethod.KEY).toInstance(new GkdMethod());
    }
}
