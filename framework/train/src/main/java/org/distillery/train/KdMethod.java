package org.distillery.train;

import java.util.List;

import com.typesafe.config.Config;

import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;

/** {@code kd.single}: one supervised distillation stage, {@code train.kd}, configured by the experiment's {@code train} block. */
public final class KdMethod implements MethodFactory {

    /** Registry key. */
    public static final String KEY = "kd.single";

    @Override
    public String description() {
        return "one train.kd stage with the experiment's train block";
    }

    @Override
    public List<Stage> stages(Config params) {
        return List.of(KdStage.named("distill"));
    }
}
