package org.distillery.train;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;

/** {@code kd}: one supervised distillation stage, {@code train.kd}, configured by the experiment's {@code train} block. */
public final class KdMethod implements MethodFactory {

    @Override
    public String description() {
        return "one train.kd stage with the experiment's train block";
    }

    @Override
    public List<StageSpec> stages(Config params) {
        return List.of(new StageSpec("distill", "train.kd", ConfigFactory.empty()));
    }
}
