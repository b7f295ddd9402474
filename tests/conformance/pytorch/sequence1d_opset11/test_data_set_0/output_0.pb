BoutputJ<ß¬{>;jK>C~D>˜N1>
C>†ç}>­sM>MB>´L/>C>ŞËz>¿€O>|/B>i/>~lD>