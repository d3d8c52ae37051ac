"""The accelerator's hardware package: schedule, config writer, cost model, devices, lint."""
