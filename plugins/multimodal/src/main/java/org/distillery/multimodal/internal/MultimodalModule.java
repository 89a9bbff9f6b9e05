package org.distillery.multimodal.internal;

import com.google.inject.AbstractModule;
import com.google.inject.multibindings.MapBinder;

import org.distillery.api.loss.LossFactory;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The multimodal bundle's contributions, named by its {@code Distillery-Module} manifest header:
 * LLaVA-KD's losses ({@code mm.response-kl}, {@code mm.visual-kl}, {@code mm.relation}), the
 * {@code mm.compose} student initialiser, the {@code mm.accuracy} metric, the
 * {@code llava-kd.recipe} method, and VIKDF's {@code vikdf.train} trainer and {@code vikdf.recipe} method. Every key bound here has its defaults in {@code reference.conf}.
 */
public final class MultimodalModule extends AbstractModule {

    /** Creates the module; the kernel instantiates it by reflection. */
    public MultimodalModule() {
    }

    @Override
    protected void configure() {
        MapBinder<String, LossFactory> losses = MapBinder.newMapBinder(binder(), String.class, LossFactory.class);
        losses.addBinding(ResponseKlLoss.KEY).toInstance(new ResponseKlLoss.Factory());
        losses.addBinding(VisualKlLoss.KEY).toInstance(new VisualKlLoss.Factory());
        losses.addBinding(RelationLoss.KEY).toInstance(new RelationLoss.Factory());
        MapBinder.newMapBinder(binder(), String.class, ModelInitializerFactory.class)
                .addBinding(ComposeInitializer.KEY).toInstance(new ComposeInitializer.Factory());
        MapBinder.newMapBinder(binder(), String.class, MetricFactory.class)
                .addBinding(AccuracyMetric.KEY).toInstance(new AccuracyMetric.Factory());
        MapBinder<String, MethodFactory> methods = MapBinder.newMapBinder(binder(), String.class, MethodFactory.class);
        methods.addBinding(LlavaKdMethod.KEY).toInstance(new LlavaKdMethod());
        methods.addBinding(VikdfMethod.KEY).toInstance(new VikdfMethod());
        MapBinder.newMapBinder(binder(), String.class, TrainerFactory.class)
                .addBinding(VikdfTrainer.KEY).toInstance(new VikdfTrainer.Factory());
    }
}
