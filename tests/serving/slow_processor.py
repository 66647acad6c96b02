"""A custom processor for the serving tests: a model that takes a known time per call."""

import time


class SlowDouble:
    def load(self, context):
        self.delay = float(context.manifest["metadata"].get("delay_s", 0.05))

    def predict(self, frame):
        time.sleep(self.delay)
        return {"prediction": frame["x"].to_numpy() * 2.0}
