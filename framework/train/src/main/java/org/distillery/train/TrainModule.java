package org.distillery.train;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The training engine's contributions, bound as a bundle binds its contributions (the kernel reads
 * this module from the jar's {@code Distillery-Module} header): the {@code kd} and {@code kd.compare}
 * methods, the {@code train.kd} trainer and the {@code data.dataset} sampler, with defaults in this
 * jar's {@code reference.conf}.
 */
public final class TrainModule extends AbstractModule {

    @Override
    protected void configure() {
        MapBinder<String, MethodFactory> methods = MapBinder.newMapBinder(binder(), String.class, MethodFactory.class);
        methods.addBinding(KdMethod.KEY).toInstance(new KdMethod());
        methods.addBinding(CompareMethod.KEY).toInstance(new CompareMethod());
        MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class)
                .addBinding(KdStage.TRAINER).toInstance(new KdTrainer.Factory());
        MapBinder.newMapBinder(binder(), String.class, SamplerFactory.class)
                .addBinding(DatasetSampler.KEY).toInstance(new DatasetSampler.Factory());
    }
}
