"""FDHT-LSTM in Keras: HT math (ht.py), layers, models, data and training."""
