#!/usr/bin/env bash
# Trains and ships the LSTM-CTC line predictor on IAM handwritten lines (augmented; validated on IAM's validation
# split), then tunes how it decodes. Four conv blocks pool the 64-pixel height to 4 but the width only by 4, so that a
# narrow character still gets a few CTC steps. 25 epochs took about 2 hours on 2 CPU cores (the validation loss was
# still falling). Extra arguments are key=value overrides; an interrupted run resumes from its last finished epoch.
# The shipped weights trained 20 epochs more from the first run's, at a lower learning rate (85 minutes; test CER
# 11.8% -> 9.8%, greedy decoding):
#   tasks/train_lstm_line_predictor_on_iam.sh train_args.epochs=20 train_args.learning_rate=0.0003 \
#     train_args.initial_weights=text_recognizer/weights/LineModelCtc_IamLinesDataset_line_lstm_ctc.weights.h5
# and then 10 more from those, on lines cut to their own ink and deskewed as a predictor then cuts any line
# (preprocessing.find_line), so that loosely cut or tilted lines read as well as IAM's tight crops (about 100
# minutes; 9.8% greedy):
#   tasks/train_lstm_line_predictor_on_iam.sh dataset_args.find_line=true train_args.epochs=10 \
#     train_args.learning_rate=0.0003 \
#     train_args.initial_weights=text_recognizer/weights/LineModelCtc_IamLinesDataset_line_lstm_ctc.weights.h5
# Last, beam search with the Brown-corpus language model (tasks/build_language_model.sh) is tuned on the validation
# split and saved as the model's decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
python training/run_experiment.py --save \
  '{"dataset": "IamLinesDataset", "model": "LineModelCtc", "network": "line_lstm_ctc", "network_args": {"conv_filters": [16, 32, 64, 96], "pool_sizes": [[2, 2], [2, 2], [2, 1], [2, 1]], "lstm_size": 128, "lstm_layers": 2, "dropout_amount": 0.2}, "train_args": {"batch_size": 32, "epochs": 25, "learning_rate": 0.001, "early_stopping_patience": 6, "reduce_lr_patience": 2}}' \
  "$@"
python training/tune_decoder.py LineModelCtc_IamLinesDataset_line_lstm_ctc --save
