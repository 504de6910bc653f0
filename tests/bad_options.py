"""Bad command-line values, for tests/test_bad_inputs.py: each a case (id, module, args, what
the one line must say[, environment])."""

D = "{data}"  # replaced by the real data root
W = "{world}"  # replaced by the fixture folder

SEEDS = "--seed", "from 0 to 4294967295"

OPTION_CASES = [
    ("unknown dataset", "experiments.cnn", ["--dataset", "cifar10"], ["invalid choice"]),
    ("zero epochs", "experiments.cnn", ["--epochs", "0"], ["--epochs", "positive integer"]),
    ("word epochs", "experiments.cnn", ["--epochs", "ten"], ["--epochs", "'ten'"]),
    (
        "epochs beyond what a run can count",
        "experiments.cnn",
        ["--data-dir", D, "--epochs", "99999999999999999999"],
        ["--epochs 99999999999999999999", "more than a run can count", "at most 4,588,640"],
    ),
    ("negative batch", "experiments.cnn", ["--batch-size", "-3"], ["--batch-size"]),
    ("zero batch", "experiments.cnn", ["--batch-size", "0"], ["--batch-size", "positive"]),
    ("nan learning rate", "experiments.cnn", ["--lr", "nan"], ["--lr", "positive finite"]),
    ("zero learning rate", "experiments.cnn", ["--lr", "0"], ["--lr", "positive finite"]),
    ("underflowing learning rate", "experiments.cnn", ["--lr", "1e-400"], ["--lr", "1e-400"]),
    ("infinite learning rate", "experiments.cnn", ["--lr", "1e999"], ["--lr", "positive finite"]),
    ("unknown test-time views", "experiments.best", ["--tta", "rotate"], ["--tta", "'rotate'"]),
    ("negative seed", "experiments.cnn", ["--seed", "-1"], [*SEEDS, "'-1'"]),
    ("seed beyond 64 bits", "experiments.cnn", ["--seed", "99999999999999999999"], [*SEEDS]),
    ("seed beyond 32 bits", "experiments.mlp", ["--seed", "4294967296"], [*SEEDS]),
    ("word seed", "experiments.softmax", ["--seed", "one"], [*SEEDS, "'one'"]),
    ("negative validation", "experiments.mlp", ["--validation", "-5"], ["--validation"]),
    (
        "validation holds out every example",
        "experiments.mlp",
        ["--data-dir", D, "--validation", "60000"],
        ["--validation 60000 leaves no training examples", "60000"],
    ),
    (
        "validation leaves less than a batch",
        "experiments.cnn",
        ["--data-dir", D, "--validation", "59990"],
        ["--batch-size 128 is larger than the 10 training examples"],
    ),
    ("zero subset", "experiments.cnn", ["--subset", "0"], ["--subset", "positive integer"]),
    (
        "subset smaller than a batch",
        "experiments.cnn",
        ["--data-dir", D, "--subset", "5"],
        ["--batch-size 128 is larger than the 5 training examples"],
    ),
    ("zero devices", "experiments.cnn", ["--devices", "0"], ["--devices", "positive integer"]),
    (
        "more devices than there are",
        "experiments.cnn",
        ["--data-dir", D, "--devices", "4096"],
        ["--devices 4096", "device(s)"],
    ),
    (
        "process id without coordinator",
        "experiments.cnn",
        ["--process-id", "0"],
        ["--num-processes and --process-id need --coordinator"],
    ),
    (
        "process id out of range",
        "experiments.cnn",
        ["--coordinator", "127.0.0.1:29500", "--num-processes", "2", "--process-id", "2"],
        ["--process-id 2 must be between 0 and 1"],
    ),
    (
        "coordinator without a port",
        "experiments.cnn",
        ["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
        ["--coordinator", "HOST:PORT", "'localhost'"],
    ),
    (
        "negative process id from the environment",
        "experiments.cnn",
        [],
        ["$HANDJAX_PROCESS_ID", "'-1'"],
        {
            "HANDJAX_COORDINATOR": "127.0.0.1:29500",
            "HANDJAX_NUM_PROCESSES": "2",
            "HANDJAX_PROCESS_ID": "-1",
        },
    ),
    (
        "zero processes from the environment",
        "experiments.cnn",
        ["--coordinator", "127.0.0.1:29500", "--process-id", "0"],
        ["$HANDJAX_NUM_PROCESSES", "positive integer"],
        {"HANDJAX_NUM_PROCESSES": "0"},
    ),
]
