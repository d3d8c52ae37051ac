"""The FPGA parts the reports know: resources from the vendors' data sheets."""

from typing import Any, Dict

# Device ceilings. Sources: AMD/Xilinx data sheets and product tables --
# Alveo U250 (DS962, "Alveo U200 and U250 Data Center Accelerator Cards"):
# 1,728K LUTs, 3,456K registers, 12,288 DSP slices, 2,688 36-Kb block RAMs
# (= 5,376 BRAM_18K), 1,280 UltraRAMs; Virtex UltraScale+ VU9P and VU13P
# (DS923 / UltraScale+ FPGA product tables): VU9P 1,182,240 LUTs, 2,364,480 FFs,
# 6,840 DSP48E2, 2,160 36-Kb BRAM (4,320 BRAM_18K), 960 URAM; VU13P
# 1,728,000 LUTs, 3,456,000 FFs, 12,288 DSP, 2,688 36-Kb BRAM, 1,280 URAM;
# Zynq UltraScale+ ZU9EG (DS891 / MPSoC product tables): 274,080 LUTs,
# 548,160 FFs, 2,520 DSP, 912 36-Kb BRAM (1,824 BRAM_18K), no URAM.
# These are also the "Available" figures Vivado/Vitis HLS print for the parts.
DEVICES: Dict[str, Dict[str, Any]] = {
    "xcu250-figd2104-2L-e": {"name": "Alveo U250 (XCU250)", "DSP": 12288, "BRAM_18K": 5376, "LUT": 1728000,
                             "FF": 3456000, "URAM": 1280},
    "xcvu13p-flga2577-2-e": {"name": "Virtex UltraScale+ VU13P (hls4ml's default part)", "DSP": 12288,
                             "BRAM_18K": 5376, "LUT": 1728000, "FF": 3456000, "URAM": 1280},
    "xcvu9p-flga2104-2L-e": {"name": "Virtex UltraScale+ VU9P", "DSP": 6840, "BRAM_18K": 4320, "LUT": 1182240,
                             "FF": 2364480, "URAM": 960},
    "xczu9eg-ffvb1156-2-e": {"name": "Zynq UltraScale+ ZU9EG", "DSP": 2520, "BRAM_18K": 1824, "LUT": 274080,
                             "FF": 548160, "URAM": 0},
    # the VivadoAccelerator boards' parts (pynq-z2, alveo-u50/u200/u280; zcu102 and u250 are above)
    "xc7z020clg400-1": {"name": "Zynq-7000 XC7Z020 (PYNQ-Z2)", "DSP": 220, "BRAM_18K": 280, "LUT": 53200,
                        "FF": 106400, "URAM": 0},
    "xcu50-fsvh2104-2-e": {"name": "Alveo U50 (XCU50)", "DSP": 5952, "BRAM_18K": 2688, "LUT": 872000,
                           "FF": 1743000, "URAM": 640},
    "xcu200-fsgd2104-2-e": {"name": "Alveo U200 (XCU200)", "DSP": 6840, "BRAM_18K": 4320, "LUT": 1182000,
                            "FF": 2364000, "URAM": 960},
    "xcu280-fsvh2892-2L-e": {"name": "Alveo U280 (XCU280)", "DSP": 9024, "BRAM_18K": 4032, "LUT": 1304000,
                             "FF": 2607000, "URAM": 960},
}
