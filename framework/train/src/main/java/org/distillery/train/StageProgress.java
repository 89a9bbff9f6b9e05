package org.distillery.train;

/** Where a {@code train.kd} stage is: the steps done, the best evaluation so far, the last loss. */
final class StageProgress {
    String stage = "";
    long step;
    double bestScore = Double.NaN;
    long bestStep = -1;
    int sinceBest;
    double lastLoss = Double.NaN;
}
